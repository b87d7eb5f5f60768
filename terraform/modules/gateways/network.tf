resource "aws_security_group" "gateway" {
  name        = "${var.name}-gateway"
  description = "Stratus gateways of ${var.name}"
  vpc_id      = var.vpc_id
  tags        = var.tags
}

# gRPC arrives from the load balancer's addresses inside the VPC (IP targets
# do not preserve the client address over TCP), as do its health checks.
resource "aws_vpc_security_group_ingress_rule" "grpc" {
  security_group_id = aws_security_group.gateway.id
  description       = "gRPC from the load balancer"
  cidr_ipv4         = data.aws_vpc.this.cidr_block
  ip_protocol       = "tcp"
  from_port         = var.grpc_port
  to_port           = var.grpc_port
}

# UDP through a Network Load Balancer keeps the client's address.
resource "aws_vpc_security_group_ingress_rule" "quic" {
  for_each = var.quic_port == null ? toset([]) : toset(concat([data.aws_vpc.this.cidr_block], var.client_cidr_blocks))

  security_group_id = aws_security_group.gateway.id
  description       = "QUIC from clients"
  cidr_ipv4         = each.value
  ip_protocol       = "udp"
  from_port         = var.quic_port
  to_port           = var.quic_port
}

resource "aws_vpc_security_group_egress_rule" "https" {
  security_group_id = aws_security_group.gateway.id
  description       = "HTTPS: S3, S3 Express, ECR, SSM, CloudWatch Logs"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

resource "aws_vpc_security_group_egress_rule" "vpc" {
  security_group_id = aws_security_group.gateway.id
  description       = "FoundationDB and the OTLP collector inside the VPC"
  cidr_ipv4         = data.aws_vpc.this.cidr_block
  ip_protocol       = "tcp"
  from_port         = 0
  to_port           = 65535
}
