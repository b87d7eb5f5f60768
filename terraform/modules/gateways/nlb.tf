# One Network Load Balancer: gRPC over TCP (or TLS terminated here) and QUIC
# over UDP, passed through to the gateways (QUIC carries its own TLS).

resource "aws_lb" "gateway" {
  #checkov:skip=CKV_AWS_152:Cross-zone load balancing is off by default on purpose (cross_zone_load_balancing): a client stays in its zone, which avoids cross-zone transfer charges and keeps its writes on a gateway next to its zone's WAL bucket.
  name                             = "${var.name}-gw"
  load_balancer_type               = "network"
  internal                         = var.internal
  subnets                          = var.nlb_subnet_ids
  enable_cross_zone_load_balancing = var.cross_zone_load_balancing
  enable_deletion_protection       = var.deletion_protection
  # Clients resolving the NLB name get an address in their own zone, so a
  # producer reaches a gateway that writes to its zone's WAL bucket without
  # crossing zones.
  dns_record_client_routing_policy = var.dns_client_routing_policy
  tags                             = var.tags

  dynamic "access_logs" {
    for_each = var.access_logs_bucket == null ? [] : [var.access_logs_bucket]

    content {
      bucket  = access_logs.value
      prefix  = "${var.name}-gateway-nlb"
      enabled = true
    }
  }
}

resource "aws_lb_target_group" "grpc" {
  name                 = "${var.name}-grpc"
  port                 = var.grpc_port
  protocol             = "TCP"
  target_type          = "ip"
  vpc_id               = var.vpc_id
  deregistration_delay = 30
  tags                 = var.tags

  # NLB health checks speak TCP, HTTP/1.1 or HTTPS, and the gateway serves
  # gRPC over HTTP/2 only, so the load balancer checks the port accepts
  # connections; the container health check (health_check_command) asks the
  # gateway itself, and ECS replaces tasks that fail it.
  health_check {
    protocol            = "TCP"
    port                = "traffic-port"
    interval            = 10
    healthy_threshold   = 2
    unhealthy_threshold = 2
  }
}

resource "aws_lb_target_group" "quic" {
  count = var.quic_port == null ? 0 : 1

  name                 = "${var.name}-quic"
  port                 = var.quic_port
  protocol             = "UDP"
  target_type          = "ip"
  vpc_id               = var.vpc_id
  deregistration_delay = 30
  tags                 = var.tags

  # UDP targets are checked over TCP; the gRPC port is open exactly when the
  # gateway is serving.
  health_check {
    protocol            = "TCP"
    port                = tostring(var.grpc_port)
    interval            = 10
    healthy_threshold   = 2
    unhealthy_threshold = 2
  }
}

resource "aws_lb_listener" "grpc" {
  load_balancer_arn = aws_lb.gateway.arn
  port              = var.grpc_port
  protocol          = var.tls_certificate_arn == null ? "TCP" : "TLS"
  certificate_arn   = var.tls_certificate_arn
  ssl_policy        = var.tls_certificate_arn == null ? null : "ELBSecurityPolicy-TLS13-1-2-2021-06"
  # gRPC needs HTTP/2; advertising only h2 makes clients that cannot speak it
  # fail at the handshake instead of mid-call.
  alpn_policy = var.tls_certificate_arn == null ? null : "HTTP2Only"
  tags        = var.tags

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.grpc.arn
  }
}

resource "aws_lb_listener" "quic" {
  count = var.quic_port == null ? 0 : 1

  load_balancer_arn = aws_lb.gateway.arn
  port              = var.quic_port
  protocol          = "UDP"
  tags              = var.tags

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.quic[0].arn
  }
}
