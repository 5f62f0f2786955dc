"""The neighbour tables' foreign keys lose their database constraints (Django still cascades a
product's deletion to its rows): a rebuild rewrites millions of rows from the products' own pks,
and PostgreSQL checked each constraint row by row at the commit (1M item-CF rows: 17.6-18.9 µs a
row with them, 8.0-8.2 without; `bench/neighbor_write.py`, docs/scale.md)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('catalog', '0012_search_vocabulary_numbers'),
    ]

    operations = [
        migrations.AlterField(
            model_name='itemneighbor',
            name='neighbor',
            field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='catalog.product'),
        ),
        migrations.AlterField(
            model_name='itemneighbor',
            name='product',
            field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.CASCADE, related_name='neighbors', to='catalog.product'),
        ),
    ]
