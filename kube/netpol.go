package kube

import (
	"fmt"
	"net/netip"

	"github.com/go-sandbox/sandbox"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// networkPolicy is the session's NetworkPolicy: it selects the session's
// pod, denies every ingress, and allows egress as the policy says (none,
// everything, or the allow-listed addresses).
func (b *Backend) networkPolicy(p *plan) *networkingv1.NetworkPolicy {
	np := &networkingv1.NetworkPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
		ObjectMeta: b.objectMeta(p),
	}
	np.Spec = networkPolicySpec(p.session.ID, p.session.NetworkPolicy)
	return np
}

// networkPolicySpec is the spec for a session's policy; ApplyNetworkPolicy
// replaces it.
func networkPolicySpec(id sandbox.SessionID, policy sandbox.NetworkPolicy) networkingv1.NetworkPolicySpec {
	spec := networkingv1.NetworkPolicySpec{
		PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{LabelSession: sessionLabel(id)}},
		PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
		// No ingress rule: nothing may connect to the pod.
	}
	switch {
	case policy.Mode == sandbox.NetworkUnrestricted:
		spec.Egress = []networkingv1.NetworkPolicyEgressRule{{}} // one empty rule matches everything
	case len(policy.AllowedHosts) > 0:
		blocks, _ := allowedBlocks(policy.AllowedHosts) // checked by checkNetwork
		rule := networkingv1.NetworkPolicyEgressRule{}
		for _, cidr := range blocks {
			rule.To = append(rule.To, networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: cidr}})
		}
		spec.Egress = []networkingv1.NetworkPolicyEgressRule{rule}
	}
	return spec
}

// allowedBlocks turns allow-list entries into /32 and /128 CIDRs. A
// NetworkPolicy matches addresses only: a host name cannot be enforced by
// one (that needs a CNI's FQDN policies or an egress proxy), so it is
// refused rather than resolved once here and silently stale later.
func allowedBlocks(hosts []string) ([]string, error) {
	var out []string
	for _, h := range hosts {
		addr, err := netip.ParseAddr(h)
		if err != nil {
			return nil, fmt.Errorf("allow-list entry %q is a host name: a NetworkPolicy matches only IP addresses", h)
		}
		out = append(out, netip.PrefixFrom(addr, addr.BitLen()).String())
	}
	return out, nil
}
