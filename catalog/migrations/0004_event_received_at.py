"""Events keep the server's time of receipt beside the client's `timestamp`.

A rename of `created_at`: it was already set by the server on insert (`auto_now_add`, `now()` in
the bulk ingest), so every stored row carries its true receipt time and needs no backfill.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("catalog", "0003_event_indexes")]

    operations = [migrations.RenameField(model_name="event", old_name="created_at", new_name="received_at")]
