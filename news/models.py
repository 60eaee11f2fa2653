from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.deconstruct import deconstructible
from django.utils.translation import gettext_lazy as _

# The note a news item becomes carries its content; at most this many UTF-8
# bytes keep that note (title and URL included) within the notes' size limit.
CONTENT_MAX_BYTES = 48 * 1024


@deconstructible
class MaxBytesValidator:
    """Text of at most ``limit`` bytes in UTF-8 (20,000 emoji are 80,000 bytes)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit

    def __call__(self, value: str) -> None:
        size = len(value.encode(errors="surrogatepass"))  # validate_unicode says what is wrong
        if size > self.limit:
            raise ValidationError(
                _("Ensure this text has at most %(limit)d bytes (it has %(size)d)."),
                code="max_bytes",
                params={"limit": self.limit, "size": size},
            )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MaxBytesValidator) and other.limit == self.limit


def validate_unicode(value: str) -> None:
    """Text that UTF-8 can encode: JSON's ``"\ud800"`` decodes to a lone surrogate,
    which no database stores (it answered 500, issue 19)."""
    try:
        value.encode()
    except UnicodeEncodeError:
        raise ValidationError(
            _("Enter text without invalid characters (lone surrogates)."), code="invalid_unicode"
        ) from None


class News(models.Model):
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="news",
        verbose_name=_("author"),
    )
    title = models.CharField(_("title"), max_length=200, validators=[validate_unicode])
    content = models.TextField(
        _("content"),
        blank=True,
        max_length=20_000,
        validators=[validate_unicode, MaxBytesValidator(CONTENT_MAX_BYTES)],
    )
    created = models.DateTimeField(_("created"), default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created", "-id"]
        verbose_name = _("news item")
        verbose_name_plural = _("news")

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("news-detail", args=[self.pk])
