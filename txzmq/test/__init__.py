"""
Tests for txzmq.
"""
