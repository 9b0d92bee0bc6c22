"""The sandbox: a local model of the platform, one package per emulated service."""
