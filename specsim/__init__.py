"""specsim: calibrate, simulate and validate speculative-decoding serving policies.

Importing this package never imports torch: the simulator and the policies run anywhere.
"""

__version__ = "0.1.0"
