"""recommendations.api.examples: a query parameter cannot reach the schema without an example."""

import pytest
from rest_framework import serializers

from recommendations.api.examples import parameter_examples
from recommendations.api.serializers import SearchQuerySerializer


class _Query(serializers.Serializer):
    session = serializers.CharField(required=False)
    colour_of_the_day = serializers.CharField(required=False)


def test_a_parameter_without_an_example_is_refused_by_name():
    with pytest.raises(LookupError, match="colour_of_the_day"):
        parameter_examples(_Query)


def test_each_parameter_gets_its_examples_and_overrides_replace_them():
    examples = parameter_examples(SearchQuerySerializer, q=(("a SKU", "85123A"),))

    by_parameter = {}
    for example in examples:
        by_parameter.setdefault(example.parameter_only, []).append(example.value)
    assert set(by_parameter) == {(name, "query") for name in SearchQuerySerializer().fields}
    assert by_parameter["q", "query"] == ["85123A"]
    assert by_parameter["session", "query"] == ["s-8f2c"]
