"""Data files shipped with Troupe (roster, prompts, icons, themes)."""

from pathlib import Path

RESOURCES_DIR = Path(__file__).resolve().parent
