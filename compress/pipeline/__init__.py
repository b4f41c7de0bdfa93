"""The compression pipeline: config (config.py), stage registry (registry.py), runner (runner.py), bundle
writer (bundle.py), report (report.py). Entry point: `run_stages(load_pipeline_config(path), data_dir)`."""
