"""Shipped calibration profiles (JSON), found by `specsim.profile.shipped_profiles()`.

A package only so that the JSON files travel with the installed code; regenerate the roofline
ones with `benchmarks/make_roofline_profiles.py`, never by hand.
"""
