# Customer pages: the per-order version that signed tracking links carry.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("order_updates", "0004_carriers_tracking"),
    ]

    operations = [
        migrations.AddField(
            model_name="orderstate",
            name="tracking_link_version",
            field=models.PositiveIntegerField(
                default=0, verbose_name="tracking link version"
            ),
        ),
    ]
