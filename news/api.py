"""``POST /api/news/``: publish from a program (token) or a page (session + CSRF)."""

from django.core.exceptions import ValidationError
from django.http import JsonResponse

from news.forms import NewsForm
from news.services import news_publish
from note.http import BadRequest, api_view, json_body


def news_json(news) -> dict:
    return {
        "id": news.pk,
        "title": news.title,
        "content": news.content,
        "author": news.author.get_username(),
        "url": news.get_absolute_url(),
        "created": news.created.isoformat().replace("+00:00", "Z"),
    }


@api_view(methods=("POST",), limit="PUBLISH_PER_USER")
def news_create(request):
    data = json_body(request)
    for field in ("title", "content"):
        if field in data and not isinstance(data[field], str):
            raise BadRequest("invalid news", errors={field: ["must be a string"]})
    form = NewsForm(data)
    if not form.is_valid():
        raise BadRequest("invalid news", errors={k: list(v) for k, v in form.errors.items()})
    try:
        news = news_publish(author=request.user, **form.cleaned_data)
    except ValidationError as exc:  # from a receiver: the note it would make is refused
        raise BadRequest("invalid news", errors=exc.message_dict) from None
    return JsonResponse(news_json(news), status=201)
