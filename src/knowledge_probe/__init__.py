"""knowledge-probe: does pretraining let a small character-level transformer access world knowledge?"""

__version__ = "0.1.0"
