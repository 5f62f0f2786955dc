"""Bad cases moved to the recommendations app (recommendations 0010 takes the table over)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("experiments", "0005_badcase_review")]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=[migrations.DeleteModel(name="BadCase")]),
    ]
