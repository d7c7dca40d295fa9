import pytest

from reproreg_schemas.units import human_size


@pytest.mark.parametrize("size, text", [(0, "0 B"), (1023, "1023 B"), (1024, "1.0 KiB"), (1536, "1.5 KiB"),
                                        (50 * 1024**2, "50.0 MiB"), (3 * 1024**3, "3.0 GiB"),
                                        (1024**4, "1.0 TiB"), (2048 * 1024**4, "2048.0 TiB")])
def test_sizes_read_in_binary_units_up_to_tib(size, text):
    assert human_size(size) == text
