"""Where the shared IP is on this host: psutil reads every address of every interface (getifaddrs),
secondary ones included, which is how shared IPs are usually added, and each interface's up flag."""

from __future__ import annotations

import ipaddress

from alertmail.domain.cluster_checks import InterfaceState

__all__ = ["HostInterfaces"]


class HostInterfaces:
    def locate(self, ip: str) -> tuple[InterfaceState, str]:
        import psutil  # here: only a node with a shared IP configured asks

        wanted = ipaddress.ip_address(ip)
        stats = psutil.net_if_stats()
        for name, addresses in psutil.net_if_addrs().items():
            for address in addresses:
                if _same(address.address, wanted):
                    up = name in stats and stats[name].isup
                    return ("up" if up else "down"), name
        return "absent", ""


def _same(address: str, wanted: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    try:
        return ipaddress.ip_address(address.split("%", 1)[0]) == wanted  # fe80::1%eth0
    except ValueError:
        return False  # a MAC address (AF_PACKET/AF_LINK)
