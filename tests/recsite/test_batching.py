"""`batched`: consecutive lists of at most n items, read lazily."""

from recsite.batching import batched


def test_items_come_in_lists_of_the_size_the_last_shorter():
    assert list(batched(range(7), 3)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(batched([], 3)) == []


def test_a_batch_is_read_only_when_asked_for():
    source = iter(range(10))

    first = next(batched(source, 4))

    assert first == [0, 1, 2, 3]
    assert next(source) == 4
