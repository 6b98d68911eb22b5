"""Screening core: from full temperature frames to screening decisions."""
