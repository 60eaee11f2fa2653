from django.urls import path

from news import api

urlpatterns = [
    path("news/", api.news_create, name="api-news-create"),
]
