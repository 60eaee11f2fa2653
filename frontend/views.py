from django.shortcuts import render

from news.forms import NewsForm
from news.models import News

LATEST_NEWS = 20


def index_context(request, *, form: NewsForm | None = None) -> dict:
    return {
        "news_list": News.objects.select_related("author")[:LATEST_NEWS],
        "form": form or NewsForm(),
    }


def index(request):
    return render(request, "frontend/index.html", index_context(request))
