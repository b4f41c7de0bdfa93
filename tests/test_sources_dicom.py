"""DICOM sources on files written here with pydicom: multi-frame cine, spacing from the Sequence of
Ultrasound Regions (cm -> mm), anisotropic or missing spacing gives none, corrupt files are refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge.errors import InputError
from edge.sources import open_source
from test_sources_files import drain

pydicom = pytest.importorskip("pydicom")


def write_dicom(path: Path, frames: int, delta_cm: tuple[float, float] | None) -> Path:
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, UltrasoundMultiFrameImageStorage, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UltrasoundMultiFrameImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.Modality = "US"
    ds.Rows, ds.Columns = 64, 80
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.NumberOfFrames = frames
    ds.FrameTime = 40.0
    if delta_cm:
        region = Dataset()
        region.RegionSpatialFormat = 1
        region.PhysicalUnitsXDirection = region.PhysicalUnitsYDirection = 3
        region.PhysicalDeltaX, region.PhysicalDeltaY = delta_cm
        ds.SequenceOfUltrasoundRegions = [region]
    pixels = np.stack([np.full((64, 80), 20 * (i + 1), np.uint8) for i in range(frames)])
    ds.PixelData = pixels.tobytes()
    try:
        ds.save_as(str(path), enforce_file_format=True)  # pydicom >= 3 (Python >= 3.10)
    except TypeError:
        ds.save_as(str(path), write_like_original=False)  # pydicom 2.4, the last for Python 3.8 (JetPack 5.1)
    return path


def test_dicom_multiframe_reads_spacing_from_ultrasound_regions(tmp_path: Path) -> None:
    path = write_dicom(tmp_path / "cine.dcm", 3, (0.015, 0.015))
    src = open_source(str(path))
    frames = drain(src)
    assert len(frames) == 3 and src.eos
    assert frames[0].pixel_spacing_mm == pytest.approx(0.15)      # 0.015 cm -> 0.15 mm
    assert frames[2].timestamp == pytest.approx(0.08)              # FrameTime 40 ms
    assert int(frames[1].image.mean()) == 40


def test_dicom_anisotropic_or_missing_spacing_gives_none(tmp_path: Path) -> None:
    assert drain(open_source(str(write_dicom(tmp_path / "a.dcm", 1, (0.01, 0.02)))))[0].pixel_spacing_mm is None
    assert drain(open_source(f"dicom://{write_dicom(tmp_path / 'b.dcm', 1, None)}"))[0].pixel_spacing_mm is None


def test_corrupt_dicom_is_a_clear_input_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.dcm"
    bad.write_bytes(b"DICM" * 10)
    with pytest.raises(InputError, match="not a readable DICOM"):
        open_source(str(bad))
