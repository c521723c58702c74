"""Sync engine and adapters (amoCRM/Kommo, PostgreSQL hub)."""
