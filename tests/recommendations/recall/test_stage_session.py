"""An anonymous session's feed weighs popularity more than a customer's (`session_weights`)."""

from placements.public import Strategy
from recommendations.recall.stage import SESSION_POPULARITY_SHARE, session_weights


def test_popularity_weighs_as_much_as_the_personal_routes_together():
    weights = Strategy().routes

    session = session_weights(weights)

    personal = sum(w for route, w in weights.items() if route != "popularity")
    assert session["popularity"] == SESSION_POPULARITY_SHARE * personal > weights["popularity"]
    assert {route: w for route, w in session.items() if route != "popularity"} == {
        route: w for route, w in weights.items() if route != "popularity"
    }


def test_a_strategy_without_popularity_or_already_above_keeps_its_weights():
    assert session_weights({"itemcf": 1.0, "semantic": 0.5}) == {"itemcf": 1.0, "semantic": 0.5}
    assert session_weights({"itemcf": 1.0, "popularity": 0.0}) == {"itemcf": 1.0, "popularity": 0.0}
    assert session_weights({"itemcf": 1.0, "popularity": 3.0}) == {"itemcf": 1.0, "popularity": 3.0}
