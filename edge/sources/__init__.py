"""Frame sources by URI: one factory, one interface (`FrameSource.read(timeout)`), picked by scheme.

    file:///path/exam.mp4 or a plain path     video file (a directory: image folder; *.dcm: DICOM)
    folder:///path/to/images                  image folder, sorted by name
    v4l2:///dev/video0                        USB/HDMI grabbers most portable probes use
    rtsp://host:port/stream                   network stream (ffmpeg)
    gst://<pipeline ending in appsink>        GStreamer pipeline (when OpenCV is built with it)
    dicom:///path/file.dcm                    single or multi-frame DICOM (pydicom extra)
    synthetic://sweep?frames=300&fps=30       a made-up sweep for the demo and tests

Options come from the query string and keyword arguments (keyword arguments win); every source
refuses options it does not know, naming the valid ones, and logs the options in force on open.
`describe_sources()` lists them all with their defaults (`fetal-edge run --help`, docs/sources.md).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, Callable, Dict
from urllib.parse import parse_qsl, unquote, urlsplit

from edge.errors import InputError
from edge.registry import Registry
from edge.sources.base import CLOSED, EOS, OPEN, Frame, FrameSource

SourceFactory = Callable[[str, str, Dict[str, Any]], FrameSource]  # typing.Dict: evaluated at import, Python 3.8
SOURCES: Registry[SourceFactory] = Registry("frame source scheme")

_MODULES = {
    "file": "edge.sources.video", "folder": "edge.sources.folder", "v4l2": "edge.sources.live",
    "rtsp": "edge.sources.live", "rtsps": "edge.sources.live", "gst": "edge.sources.live",
    "dicom": "edge.sources.dicom", "synthetic": "edge.sources.synthetic",
}
DICOM_SUFFIXES = (".dcm", ".dicom")


def split_uri(uri: str) -> tuple[str, str, dict[str, str]]:
    """(scheme, target, query options). A plain path gets a scheme from what it points to."""
    if not isinstance(uri, str) or not uri.strip():
        raise InputError(f"source {uri!r} is empty; give a path or a URI such as v4l2:///dev/video0")
    uri = uri.strip()
    if "://" not in uri:
        p = Path(uri)
        scheme = "folder" if p.is_dir() else "dicom" if p.suffix.lower() in DICOM_SUFFIXES else "file"
        return scheme, uri, {}
    if uri.startswith("gst://"):
        return "gst", uri[len("gst://"):], {}  # a pipeline string is not a URL: keep it verbatim
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    if scheme in ("rtsp", "rtsps"):
        return scheme, uri, {}  # the stream URL is passed to ffmpeg whole, query included
    target = unquote(parts.netloc + parts.path)
    if scheme == "file" and Path(target).is_dir():
        scheme = "folder"
    if scheme == "file" and Path(target).suffix.lower() in DICOM_SUFFIXES:
        scheme = "dicom"
    return scheme, target, query


def describe_sources() -> str:
    """Every source: its URI form and each option it takes, with type, default and meaning (from the modules)."""
    lines = []
    for module_name in dict.fromkeys(_MODULES.values()):
        module = importlib.import_module(module_name)
        lines.append(f"  {module.USAGE}")
        for name, (kind, default) in module.OPTIONS.items():
            shown = "none" if default is None else str(default).lower() if kind is bool else default
            lines.append(f"      {name}={kind.__name__} (default {shown}): {module.HELP[name]}")
    return "\n".join(lines)


def open_source(uri: str, **options: Any) -> FrameSource:
    """Open a frame source; InputError (with what would be valid) when it cannot be opened."""
    scheme, target, query = split_uri(uri)
    module = _MODULES.get(scheme)
    if module is None:
        raise InputError(f"source {uri!r}: unknown scheme {scheme!r}; valid: {', '.join(sorted(_MODULES))} "
                         "or a plain path")
    if scheme not in SOURCES:
        importlib.import_module(module)
    merged: dict[str, Any] = {**query, **{k: v for k, v in options.items() if v is not None}}
    source = SOURCES.get(scheme)(uri, target, merged)
    source.log_open()
    return source


__all__ = ["SOURCES", "describe_sources", "Frame", "FrameSource", "OPEN", "EOS", "CLOSED", "open_source", "split_uri"]
