from django.urls import path

from news import views

urlpatterns = [
    path("", views.index, name="index"),
    path("news/", views.news_create, name="news-create"),
    path("news/<int:pk>/", views.news_detail, name="news-detail"),
]
