from recsite.lru import LRU


def test_the_least_recently_used_entry_is_dropped_first():
    lru: LRU[str, int] = LRU(lambda: 2)
    lru.put("a", 1)
    lru.put("b", 2)
    # reading `a` makes `b` the least recently used
    assert lru.get("a") == 1
    lru.put("c", 3)
    assert lru.get_many(["a", "b", "c"]) == {"a": 1, "c": 3}
    assert len(lru) == 2


def test_the_bound_is_read_at_every_insert_and_a_falsy_entry_is_kept():
    bound = {"n": 3}
    lru: LRU[int, int] = LRU(lambda: bound["n"])
    lru.put_many({1: 0, 2: 0, 3: 0})
    assert lru.get(1) == 0
    bound["n"] = 1
    lru.put(4, 4)
    assert lru.get_many([1, 2, 3, 4]) == {4: 4}
    bound["n"] = 0
    lru.put(5, 5)
    assert len(lru) == 0
    lru.put(6, 6)
    lru.clear()
    assert lru.get(6) is None
