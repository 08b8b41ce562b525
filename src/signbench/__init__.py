"""signbench: the stages of a TensorFlow/Keras course as small, tested library code.

Submodules are imported lazily so that ``import signbench`` stays cheap (TensorFlow is only
imported by the stages that need it).
"""

__version__ = "0.1.0"
