"""Test helpers shared by every test package (fakes, not mocks)."""
