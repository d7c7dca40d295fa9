import pytest

from reproreg_schemas.units import exact_number, human_size


@pytest.mark.parametrize("size, text", [(0, "0 B"), (1023, "1023 B"), (1024, "1.0 KiB"), (1536, "1.5 KiB"),
                                        (50 * 1024**2, "50.0 MiB"), (3 * 1024**3, "3.0 GiB"),
                                        (1024**4, "1.0 TiB"), (2048 * 1024**4, "2048.0 TiB")])
def test_sizes_read_in_binary_units_up_to_tib(size, text):
    assert human_size(size) == text


@pytest.mark.parametrize("value, text", [(22713727, "22713727"), (22713728.0, "22713728"), (0.953, "0.953"),
                                         (0.1 + 0.2, "0.30000000000000004"), (-0.5, "-0.5"), (1e-07, "1e-07"),
                                         (1e20, "1e+20"), (0.0, "0"), (None, "-")])
def test_numbers_are_written_so_that_they_read_back_the_same(value, text):
    assert exact_number(value) == text
    if isinstance(value, (int, float)):
        assert float(exact_number(value)) == value


def test_numbers_one_apart_never_look_alike():
    assert exact_number(22713727.0) != exact_number(22713728.0)
    assert exact_number(0.9123456789) != exact_number(0.9123456788)
