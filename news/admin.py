from django.contrib import admin

from news.models import News
from news.services import news_publish


@admin.register(News)
class NewsAdmin(admin.ModelAdmin):
    list_display = ["title", "author", "created"]
    search_fields = ["title", "content"]
    fields = ["title", "content"]

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)  # edits notify nobody
            return
        # Adding is publishing: the same service as every other entry point.
        published = news_publish(author=request.user, title=obj.title, content=obj.content)
        obj.pk, obj.author, obj.created = published.pk, published.author, published.created
