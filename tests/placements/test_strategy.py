"""Strategies in their JSON form: validated against the routes and options that exist."""

from __future__ import annotations

import pytest

from placements.strategy import Strategy, StrategyError, strategy_json, strategy_parse


def test_full_config_parses():
    config = {"routes": {"itemcf": 1, "semantic": 0.5}, "candidates_per_route": 300, "k": 20, "ranker": "fused"}
    assert strategy_parse(config, name="exp/b") == Strategy(
        name="exp/b", routes={"itemcf": 1.0, "semantic": 0.5}, candidates_per_route=300, k=20, ranker=None
    )


def test_left_out_keys_take_the_default_strategy_values():
    strategy = strategy_parse({"routes": {"itemcf": 1}})
    assert (strategy.candidates_per_route, strategy.k, strategy.rules, strategy.reasons) == (100, None, True, True)


def test_a_named_ranker_is_kept_and_fused_means_none():
    assert strategy_parse({"routes": {"itemcf": 1}, "ranker": "ranker_semantic"}).ranker == "ranker_semantic"
    assert strategy_parse({"routes": {"itemcf": 1}, "ranker": None}).ranker is None


@pytest.mark.parametrize(
    "config",
    [
        {"routes": {"itemcf": 1, "cf": 0.5}},
        {"routes": {"semantic": 1}, "k": 8, "ranker": "home", "rules": False, "reasons": False, "llm_rerank": 5},
        {"routes": {"popularity": 2}, "candidates_per_route": 50, "reasons": "warm-tone"},
    ],
)
def test_the_json_form_reads_back_to_the_same_strategy(config):
    strategy = strategy_parse(config, name="x")
    assert strategy_parse(strategy_json(strategy), name="x") == strategy


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ([], "the config must be a JSON object"),
        ({}, "'routes' must be an object"),
        ({"routes": {"bandit": 1}}, "unknown route 'bandit'"),
        ({"routes": {"itemcf": -1}}, "route 'itemcf': the weight must be a number >= 0"),
        ({"routes": {"itemcf": True}}, "route 'itemcf': the weight must be a number >= 0"),
        ({"routes": {"itemcf": float("nan")}}, "route 'itemcf': the weight must be a number >= 0"),
        ({"routes": {"itemcf": 0}}, "at least one route needs a weight above 0"),
        ({"routes": {"itemcf": 1}, "k": 0}, "'k' must be an integer from 1 to 100"),
        ({"routes": {"itemcf": 1}, "candidates_per_route": "many"}, "'candidates_per_route' must be an integer"),
        ({"routes": {"itemcf": 1}, "ranker": 5}, "'ranker' must be a ranker's name"),
        ({"routes": {"itemcf": 1}, "ranker": "no spaces"}, "'ranker' must be a ranker's name"),
        ({"routes": {"itemcf": 1}, "rules": {"boost": True}}, "'rules' must be true"),
        ({"routes": {"itemcf": 1}, "reasons": 3}, "'reasons' must be null, false or a reason template's name"),
        ({"routes": {"itemcf": 1}, "reasons": True}, "'reasons' must be null, false or a reason template's name"),
        ({"routes": {"itemcf": 1}, "llm_rerank": 1}, "'llm_rerank' must be null or an integer from 2 to 50"),
        ({"routes": {"itemcf": 1}, "llm_rerank": True}, "'llm_rerank' must be null or an integer from 2 to 50"),
        ({"routes": {"itemcf": 1}, "colour": "red"}, "unknown keys colour"),
    ],
)
def test_bad_configs_are_refused_naming_the_problem(config, message):
    with pytest.raises(StrategyError, match=message.replace("(", r"\(")):
        strategy_parse(config)
