# Each zone's service scales on its own average CPU: zones see different
# load when clients prefer their own zone.

resource "aws_appautoscaling_target" "gateway" {
  for_each = var.zones

  service_namespace  = "ecs"
  resource_id        = "service/${local.ecs_cluster_name}/${aws_ecs_service.gateway[each.key].name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = var.min_tasks_per_zone
  max_capacity       = var.max_tasks_per_zone
}

resource "aws_appautoscaling_policy" "cpu" {
  for_each = var.zones

  name               = "${var.name}-gateway-${each.key}-cpu"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.gateway[each.key].service_namespace
  resource_id        = aws_appautoscaling_target.gateway[each.key].resource_id
  scalable_dimension = aws_appautoscaling_target.gateway[each.key].scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = var.cpu_target_percent
    scale_out_cooldown = 60
    # Slow to scale in: a removed task drops its clients' connections.
    scale_in_cooldown = 300

    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
  }
}
