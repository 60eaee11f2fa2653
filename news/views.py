from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from news.forms import NewsForm
from news.models import News
from news.services import news_publish
from note import limits

LATEST_NEWS = 20


def index_context(request, *, form: NewsForm | None = None) -> dict:
    return {
        "news_list": News.objects.select_related("author")[:LATEST_NEWS],
        "form": form or NewsForm(),
        # The page's script fills in the count. "news" has no plural in English,
        # so one message fits every count.
        "fresh_news_label": _("Show new news (%(count)s)"),
    }


def index(request):
    """The site's front page: the latest news and, logged in, the form to post."""
    return render(request, "news/index.html", index_context(request))


@login_required
@require_POST
def news_create(request):
    """The page's post form; on errors the page is shown again with them."""
    try:
        limits.check("PUBLISH_PER_USER", request.user.pk)  # the API's count too
    except limits.Limited as exc:
        return limits.too_many_requests(exc)
    form = NewsForm(request.POST)
    if not form.is_valid():
        return render(request, "news/index.html", index_context(request, form=form), status=400)
    news_publish(author=request.user, **form.cleaned_data)
    messages.success(request, _("Your news is published."))
    return redirect("index")


def news_detail(request, pk: int):
    news = get_object_or_404(News.objects.select_related("author"), pk=pk)
    return render(request, "news/detail.html", {"news": news})
