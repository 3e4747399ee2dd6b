"""Alias of ``keys_management.dependecies`` (the original's spelling)."""

from .dependecies import CryptoTool, StateRepoInterface

__all__ = ["CryptoTool", "StateRepoInterface"]
