"""Settings: one table (settings.py), one loader (loader.py), and the
generator of docs/settings.md (docs.py)."""

from glade.config.loader import Config, ConfigError, Given, Source, load_config
from glade.config.settings import BY_NAME, HOOKS, SECTIONS, SETTINGS, Setting, SettingError

__all__ = [
    "BY_NAME",
    "HOOKS",
    "SECTIONS",
    "SETTINGS",
    "Config",
    "ConfigError",
    "Given",
    "Setting",
    "SettingError",
    "Source",
    "load_config",
]
