"""alertmail: the outbound mail subsystem of an appliance or a self-hosted service."""

__version__ = "0.1.0"

__all__ = ["__version__"]
