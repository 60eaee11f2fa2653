from django.core.management.base import BaseCommand, CommandError

from note.webhooks import endpoints
from note.webhooks.endpoints import EndpointError
from note.webhooks.models import WebhookEndpoint


class Command(BaseCommand):
    help = (
        "Register and manage webhook endpoints (docs/webhooks.md): add, list, enable, "
        "disable, remove, rotate-secret. A secret is printed once, as the last line, by add "
        "and rotate-secret."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        add = sub.add_parser("add", help="register an endpoint; prints its secret")
        add.add_argument("name", help="a unique name: letters, digits, '-' or '_'")
        add.add_argument("url", help="http:// or https:// URL that receives the POSTs")
        add.add_argument(
            "--kind",
            action="append",
            dest="kinds",
            default=[],
            help="send only notes of this kind (repeat, or comma-separate; default: all)",
        )
        add.add_argument(
            "--visibility",
            default=WebhookEndpoint.PUBLIC,
            help="public (default), private or all: which notes are sent",
        )
        add.add_argument("--disabled", action="store_true", help="register it turned off")
        sub.add_parser("list", help="every endpoint with its filter, health and queue")
        enable = sub.add_parser("enable", help="turn an endpoint on (again)")
        enable.add_argument("name")
        enable.add_argument(
            "--skip-missed",
            action="store_true",
            help="do not send the notes committed while it was off",
        )
        disable = sub.add_parser("disable", help="turn an endpoint off; its queue is kept")
        disable.add_argument("name")
        disable.add_argument("--reason", default="disabled by hand")
        remove = sub.add_parser("remove", help="delete an endpoint and its queue")
        remove.add_argument("name")
        rotate = sub.add_parser("rotate-secret", help="a new secret (the old one stops at once)")
        rotate.add_argument("name")

    def handle(self, *args, action, **options):
        try:
            getattr(self, "do_" + action.replace("-", "_"))(**options)
        except EndpointError as exc:
            raise CommandError(str(exc)) from None

    def do_add(self, *, name, url, kinds, visibility, disabled, **_):
        kinds = [k for value in kinds for k in value.split(",")]
        endpoint = endpoints.endpoint_create(
            name=name, url=url, kinds=kinds, visibility=visibility, enabled=not disabled
        )
        self.stdout.write(f"added {endpoint.name} -> {endpoint.url}; its secret, shown this once:")
        self.stdout.write(endpoint.secret)

    def do_list(self, **_):
        rows = WebhookEndpoint.objects.order_by("name")
        if not rows:
            self.stdout.write("no endpoints (add one: manage.py webhooks add NAME URL)")
        for e in rows:
            state = "enabled" if e.enabled else f"DISABLED ({e.disabled_reason or 'by hand'})"
            health = (
                f"failing x{e.consecutive_failures} since {e.failing_since:%Y-%m-%d %H:%M}: "
                f"{e.last_error}"
                if e.consecutive_failures
                else "ok"
            )
            self.stdout.write(
                f"{e.name}\t{e.url}\tkinds={','.join(e.kinds) or '*'}\t{e.visibility}\t{state}\t"
                f"queued={e.deliveries.count()}\tdelivered={e.delivered_total}\t{health}"
            )

    def do_enable(self, *, name, skip_missed, **_):
        endpoint = endpoints.endpoint_enable(
            endpoint=endpoints.endpoint_get(name), skip_missed=skip_missed
        )
        self.stdout.write(f"enabled {endpoint.name}")

    def do_disable(self, *, name, reason, **_):
        endpoint = endpoints.endpoint_disable(endpoint=endpoints.endpoint_get(name), reason=reason)
        self.stdout.write(f"disabled {endpoint.name}")

    def do_remove(self, *, name, **_):
        dropped = endpoints.endpoint_remove(endpoint=endpoints.endpoint_get(name))
        self.stdout.write(f"removed {name} ({dropped} queued deliveries dropped)")

    def do_rotate_secret(self, *, name, **_):
        secret = endpoints.endpoint_rotate_secret(endpoint=endpoints.endpoint_get(name))
        self.stdout.write(f"new secret for {name}, shown this once:")
        self.stdout.write(secret)
