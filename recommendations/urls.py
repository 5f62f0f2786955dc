"""Recommendation API routes, mounted under /api/v1/. A product id is one path segment (`[^/]+`);
the trailing slash is optional, as in catalog.urls."""

from django.urls import re_path

from recommendations.api.conversations import ConversationsApi, ConversationTurnsApi
from recommendations.api.customers import CustomerDetailApi
from recommendations.api.feedback import FeedbackApi
from recommendations.api.views import BoughtTogetherApi, RecommendationsApi, SearchApi, SimilarItemsApi

urlpatterns = [
    re_path(r"^recommendations/?$", RecommendationsApi.as_view(), name="recommendations"),
    re_path(r"^products/(?P<product_id>[^/]+)/similar/?$", SimilarItemsApi.as_view(), name="product-similar"),
    re_path(r"^search/?$", SearchApi.as_view(), name="search"),
    re_path(r"^bought-together/?$", BoughtTogetherApi.as_view(), name="bought-together"),
    re_path(r"^customers/(?P<customer_id>[^/]+)/?$", CustomerDetailApi.as_view(), name="customer-detail"),
    re_path(r"^feedback/?$", FeedbackApi.as_view(), name="feedback"),
    re_path(r"^conversations/?$", ConversationsApi.as_view(), name="conversations"),
    re_path(
        r"^conversations/(?P<conversation_id>[^/]+)/turns/?$", ConversationTurnsApi.as_view(), name="conversation-turns"
    ),
]
