from django import forms

from news.models import News


class NewsForm(forms.ModelForm):
    class Meta:
        model = News
        fields = ["title", "content"]
        widgets = {"content": forms.Textarea(attrs={"rows": 4})}
