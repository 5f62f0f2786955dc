"""An experiment's layer defaults to its placement's own (empty `layer`), so experiments on
different placements never compete for one shared default layer. Drafts and completed experiments
move to their placement's layer; launched ones keep the layer their slice was taken in."""

from django.db import migrations, models


def drafts_to_placement_layers(apps, schema_editor):
    Experiment = apps.get_model("experiments", "Experiment")
    Experiment.objects.filter(layer="default").exclude(status__in=["running", "paused"]).update(layer="")


class Migration(migrations.Migration):
    dependencies = [("experiments", "0009_bought_together_placement")]

    operations = [
        migrations.AlterField(
            model_name="experiment",
            name="layer",
            field=models.SlugField(
                blank=True,
                default="",
                help_text="Experiments of one layer never share a customer; one placement's experiments share a "
                "layer. Empty: the placement's own layer (named after it); name a layer to keep experiments on "
                "several placements apart.",
            ),
        ),
        migrations.RunPython(drafts_to_placement_layers, migrations.RunPython.noop),
    ]
