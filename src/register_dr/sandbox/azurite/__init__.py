"""Azurite, the Azure Blob Storage emulator: process control and storage accounts."""
