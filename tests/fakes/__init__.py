"""Fakes of outside services, over real HTTP on 127.0.0.1."""
