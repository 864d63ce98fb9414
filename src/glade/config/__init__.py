"""Settings: one table (settings.py) and one loader (loader.py)."""

from glade.config.loader import Config, ConfigError, load_config
from glade.config.settings import BY_NAME, SETTINGS, Setting, SettingError

__all__ = [
    "BY_NAME",
    "SETTINGS",
    "Config",
    "ConfigError",
    "Setting",
    "SettingError",
    "load_config",
]
