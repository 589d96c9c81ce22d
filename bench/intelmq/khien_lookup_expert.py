"""A minimal IntelMQ expert bot for the ingestion benchmark: is an observable a listed indicator value?

IntelMQ 3.5 has no generic "value in a set" expert (its lookup experts query
external services or databases), so this bot does the same work as Khiên's
matcher with the same kind of tables, loaded from the same indicator values:
exact addresses, CIDR ranges (one dict per prefix length), domains and their
parent domains, URLs, hashes. A hit is added as `extra.khien_hit`. Written the
way IntelMQ's own experts are (ExpertBot, receive/send/acknowledge).
"""
import ipaddress

from intelmq.lib.bot import ExpertBot


class KhienLookupExpertBot(ExpertBot):
    """Mark events whose observables are listed indicator values"""
    values_file: str = ""

    def init(self):
        self.addresses, self.networks, self.domains, self.urls, self.hashes = set(), {}, set(), set(), set()
        with open(self.values_file, encoding="utf-8") as fh:
            for line in fh:
                kind, _tab, value = line.rstrip("\n").partition("\t")
                if kind in ("ipv4", "ipv6"):
                    self.addresses.add(int(ipaddress.ip_address(value)))
                elif kind == "cidr":
                    net = ipaddress.ip_network(value, strict=False)
                    bits = net.max_prefixlen - net.prefixlen
                    self.networks.setdefault((net.version, bits), set()).add(int(net.network_address) >> bits)
                elif kind == "domain":
                    self.domains.add(value)
                elif kind == "url":
                    self.urls.add(value)
                else:
                    self.hashes.add(value.lower())

    def _ip_hits(self, text):
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            return []
        number = int(address)
        hits = ["ip"] if number in self.addresses else []
        for (version, bits), table in self.networks.items():
            if version == address.version and (number >> bits) in table:
                hits.append("cidr")
        return hits

    def process(self):
        event = self.receive_message()
        hits = []
        for key in ("source.ip", "destination.ip"):
            if key in event:
                hits += [f"{key}:{h}" for h in self._ip_hits(event[key])]
        for key in ("source.fqdn", "destination.fqdn"):
            if key in event:
                labels = event[key].split(".")
                if any(".".join(labels[i:]) in self.domains for i in range(len(labels))):
                    hits.append(key)
        for key in ("source.url", "destination.url"):
            if key in event and event[key] in self.urls:
                hits.append(key)
        for key in ("malware.hash.md5", "malware.hash.sha1", "malware.hash.sha256"):
            if key in event and event[key].lower() in self.hashes:
                hits.append(key)
        if hits:
            event.add("extra.khien_hit", ",".join(hits))
        self.send_message(event)
        self.acknowledge_message()


BOT = KhienLookupExpertBot

if __name__ == "__main__":
    BOT.run()
