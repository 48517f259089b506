"""Project-rooted paths. Nothing here touches the disk."""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DATA_SAMPLES = PROJECT_ROOT / "data_samples"
SAMPLE_COUNTY = DATA_SAMPLES / "county"
EXPERIMENTS = PROJECT_ROOT / "experiments"
DEFAULT_WORK_DIR = PROJECT_ROOT / "state"
