from tests.s3 import moto_server  # noqa: F401  (the fixture)
