"""Config: schema (every key, once), load (YAML + --set -> a validated, frozen Config) and build
(Config -> the objects a run is made of). schema and load import no math; build is the one
module where the config meets the math."""

from .load import (apply_overrides, config_from_dict, config_to_dict, load_config,
                   save_config)
from .schema import Config, DataConfig, ModelConfig, OptimConfig, TrainConfig, describe_keys

__all__ = ["Config", "DataConfig", "ModelConfig", "OptimConfig", "TrainConfig", "apply_overrides",
           "config_from_dict", "config_to_dict", "describe_keys", "load_config", "save_config"]
