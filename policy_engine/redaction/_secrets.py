"""Credential formats: providers' tokens by their prefixes, and values by the name they are given.

The formats are those of maintained secret scanners, each pattern citing the rule it
follows: gitleaks' rule set (config/gitleaks.toml, rule ids below) and detect-secrets'
plugins (detect_secrets/plugins/*.py). A few LLM providers that neither lists yet
(Groq, xAI, Replicate, Docker Hub) follow the prefix their own documentation gives.
The rules' entropy thresholds are left out: the policy redacts secrets for every
provider, and a placeholder the model sees in place of a random-looking non-secret
costs nothing, while a missed key leaks.

All patterns are written in the syntax Python's `re` and PCRE2 read alike (the native
scan compiles these sources), over the detector's skeleton (see _skeleton: ASCII, with
LETTER for any other letter).
"""

from __future__ import annotations

# Tokens recognised by their prefix: (gate literals, pattern). Every match holds one of its
# gate literals (the scan looks for gate literals before it runs any pattern), or a digit
# where none is given (digits are gate literals of their own).
PREFIXED_TOKENS: tuple[tuple[tuple[str, ...], str], ...] = (
    # gitleaks openai-api-key, anthropic-api-key, anthropic-admin-api-key; DeepSeek and
    # Mistral-compatible "sk-" keys share the prefix.
    (("sk-",), r"sk-[A-Za-z0-9_-]{20,}"),
    # gitleaks aws-access-token
    (("A3T",), r"A3T[A-Z0-9][A-Z0-9]{16}"),
    (("AKIA",), r"AKIA[A-Z0-9]{16}"),
    (("ASIA",), r"ASIA[A-Z0-9]{16}"),
    (("ABIA",), r"ABIA[A-Z0-9]{16}"),
    (("ACCA",), r"ACCA[A-Z0-9]{16}"),
    # gitleaks github-pat, github-oauth, github-app-token, github-refresh-token
    (("ghp_", "gho_", "ghu_", "ghs_", "ghr_"), r"gh[pousr]_[A-Za-z0-9]{36,255}"),
    # gitleaks github-fine-grained-pat
    (("github_pat_",), r"github_pat_[A-Za-z0-9_]{22,255}"),
    # gitleaks gitlab-pat, gitlab-deploy-token, gitlab-runner-authentication-token,
    # gitlab-ptt, gitlab-feed-token, gitlab-incoming-mail-token, gitlab-kubernetes-agent-
    # token, gitlab-oauth-app-secret, gitlab-scim-token, gitlab-feature-flag-client-token,
    # gitlab-cicd-job-token, gitlab-rrt
    (
        (
            "glpat-",
            "gldt-",
            "glrt-",
            "glptt-",
            "glft-",
            "glimt-",
            "glagent-",
            "gloas-",
            "glsoat-",
            "glffct-",
            "glcbt-",
        ),
        r"gl(?:pat|dt|rt|ptt|ft|imt|agent|oas|soat|ffct|cbt)-[A-Za-z0-9_.-]{20,}",
    ),
    (("GR1348941",), r"GR1348941[A-Za-z0-9_-]{20,}"),
    # gitleaks slack-bot-token, slack-user-token, slack-legacy-*, slack-config-*-token
    (("xox",), r"xox[abeoprs]-[A-Za-z0-9.-]{10,}"),
    # gitleaks slack-app-token
    (("xapp-",), r"xapp-\d-[A-Za-z0-9-]{10,}"),
    # gitleaks slack-webhook-url (the whole URL is the credential)
    (
        ("hooks.slack.com",),
        r"(?:https?://)?hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9+/]{20,}",
    ),
    # gitleaks stripe-access-token; detect-secrets stripe.py
    (("sk_", "rk_"), r"[rs]k_(?:test|live|prod)_[A-Za-z0-9]{10,99}"),
    # Stripe webhook signing secret (Stripe's documented "whsec_" prefix)
    (("whsec_",), r"whsec_[A-Za-z0-9]{24,}"),
    # gitleaks gcp-api-key
    (("AIza",), r"AIza[A-Za-z0-9_-]{35}"),
    # Google OAuth client secret and access token (Google's documented prefixes)
    (("GOCSPX-",), r"GOCSPX-[A-Za-z0-9_-]{24,}"),
    (("ya29.",), r"ya29\.[A-Za-z0-9_-]{20,}"),
    # gitleaks twilio-api-key; detect-secrets twilio.py
    (("SK",), r"SK[0-9a-fA-F]{32}"),
    # gitleaks sendgrid-api-token; detect-secrets sendgrid.py
    (("SG.",), r"SG\.[A-Za-z0-9_-]{16,32}\.[A-Za-z0-9_-]{16,64}"),
    # gitleaks npm-access-token; detect-secrets npm.py
    (("npm_",), r"npm_[A-Za-z0-9]{36}"),
    # gitleaks pypi-upload-token; detect-secrets pypi_token.py
    (("pypi-",), r"pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,}"),
    # gitleaks huggingface-access-token, huggingface-organization-api-token
    (("hf_",), r"hf_[A-Za-z]{34}"),
    (("api_org_",), r"api_org_[A-Za-z]{34}"),
    # gitleaks shopify-access-token, -custom-access-token, -private-app-access-token,
    # -shared-secret
    (("shpat_", "shpca_", "shppa_", "shpss_"), r"shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}"),
    # gitleaks digitalocean-access-token, digitalocean-pat, digitalocean-refresh-token
    (("_v1_",), r"do[opr]_v1_[a-f0-9]{64}"),
    # gitleaks databricks-api-token
    (("dapi",), r"dapi[a-f0-9]{32}(?:-\d)?"),
    # gitleaks vault-service-token, vault-batch-token
    (("hvs.", "hvb."), r"hv[sb]\.[A-Za-z0-9_-]{90,300}"),
    # gitleaks heroku-api-key-v2
    (("HRKU-",), r"HRKU-AA[A-Za-z0-9_-]{58}"),
    # gitleaks linear-api-key
    (("lin_api_",), r"lin_api_[A-Za-z0-9]{40}"),
    # gitleaks notion-api-token
    (("ntn_",), r"ntn_\d{11}[A-Za-z0-9]{35}"),
    # gitleaks postman-api-token
    (("PMAK-",), r"PMAK-[a-fA-F0-9]{24}-[a-fA-F0-9]{34}"),
    # gitleaks pulumi-api-token
    (("pul-",), r"pul-[a-f0-9]{40}"),
    # gitleaks perplexity-api-key
    (("pplx-",), r"pplx-[A-Za-z0-9]{48}"),
    # Groq, xAI, Replicate API keys; Docker Hub personal access token (their documented
    # prefixes)
    (("gsk_",), r"gsk_[A-Za-z0-9]{48,}"),
    (("xai-",), r"xai-[A-Za-z0-9]{60,}"),
    (("r8_",), r"r8_[A-Za-z0-9]{37}"),
    (("dckr_pat_",), r"dckr_pat_[A-Za-z0-9_-]{27}"),
    # gitleaks age-secret-key
    (("AGE-SECRET-KEY-1",), r"AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}"),
    # gitleaks doppler-api-token, dynatrace-api-token, new-relic-user-api-key
    (("dp.pt.",), r"dp\.pt\.[A-Za-z0-9]{43}"),
    (("dt0c01.",), r"dt0c01\.[A-Za-z0-9]{24}\.[A-Za-z0-9]{64}"),
    (("NRAK-",), r"NRAK-[A-Z0-9]{27}"),
    # gitleaks sentry-user-token, sentry-org-token
    (("sntry",), r"sntry[us]_[A-Za-z0-9+/=_]{40,}"),
    # gitleaks grafana-service-account-token, grafana-cloud-api-token
    (("glsa_", "glc_"), r"gl(?:sa|c)_[A-Za-z0-9+/_]{32,}"),
    # gitleaks sendinblue-api-token
    (("xkeysib-",), r"xkeysib-[a-f0-9]{64}-[A-Za-z0-9]{16}"),
    # gitleaks square-access-token; detect-secrets square_oauth.py
    (("sq0",), r"sq0(?:atp|csp)-[A-Za-z0-9_-]{22,60}"),
    # gitleaks facebook-page-access-token
    (("EAA",), r"EAA[MC][A-Za-z0-9]{100,}"),
    # gitleaks artifactory-api-key; detect-secrets artifactory.py
    (("AKCp",), r"AKCp[A-Za-z0-9]{69}"),
    # gitleaks alibaba-access-key-id
    (("LTAI",), r"LTAI[A-Za-z0-9]{20}"),
    # gitleaks 1password-service-account-token, 1password-secret-key
    (("ops_eyJ",), r"ops_eyJ[A-Za-z0-9+/]{250,}={0,3}"),
    (
        ("A3-",),
        r"A3-[A-Z0-9]{6}-(?:[A-Z0-9]{11}|[A-Z0-9]{6}-[A-Z0-9]{5})-[A-Z0-9]{5}-[A-Z0-9]{5}-[A-Z0-9]{5}",
    ),
    # gitleaks azure-ad-client-secret
    ((), r"[A-Za-z0-9_~.]{3}\dQ~[A-Za-z0-9_~.-]{31,34}"),
    # detect-secrets mailchimp.py
    ((), r"[0-9a-f]{32}-us\d{1,2}"),
    # detect-secrets telegram_token.py
    ((), r"\d{8,10}:[A-Za-z0-9_-]{35}"),
    # gitleaks jwt: a header and a payload, each a base64url JSON object ("eyJ" is "{")
    (("eyJ",), r"eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"),
)

# An AWS secret access key: 40 characters of base64 (detect-secrets aws.py takes them
# after a name containing "aws"; a key pasted alone has none). Asking for an upper-case
# letter, a lower-case letter and a digit leaves out hex digests (a git commit id is 40
# lower-case hex digits) and paths of words.
AWS_SECRET_KEY = (  # a pattern, not a secret
    r"(?<![A-Za-z0-9/+=._\x01-])"  # noqa: S105
    r"(?=[A-Za-z0-9/+]{0,39}[A-Z])(?=[A-Za-z0-9/+]{0,39}[a-z])(?=[A-Za-z0-9/+]{0,39}\d)"
    r"[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=\x01])"
)

# Names whose value is a secret whatever it looks like (detect-secrets keyword.py's
# DENYLIST; gitleaks generic-api-key's passw(or)?d and secret). A bare "pass" counts
# only at the end of a longer name ("DB_PASS"): alone it is a test verdict.
PASSWORD_NAMES = r"(?i:passw(?:or)?d|passphrase|pwd|secret|contrase(?:n|\x01)a)"  # noqa: S105
PASS_SUFFIX = r"(?i:pass)"  # noqa: S105 (patterns, not passwords)
# Names whose value is a secret when it looks like one (gitleaks generic-api-key's
# access|auth|api|credential|key|token, detect-secrets keyword.py's *_key; Azure storage's
# AccountKey from detect-secrets azure_storage_key.py): eight or more characters holding a
# digit, or sixteen or more.
KEY_NAMES = (
    r"(?i:(?:api|access|secret|private|account|auth|client|master|signing|encryption)"
    r"[_-]?key|apikey|token|credentials?)"
)
# Gate literals for the names above, in the casings people write them in ("password",
# "Password", "PASSWORD", "DbPassword"...): each name holds one of them.
NAME_GATES = (
    *("ass", "ASS", "wd", "WD", "cret", "CRET", "ontrase", "ONTRASE"),
    *("key", "Key", "KEY", "oken", "OKEN", "redential", "REDENTIAL"),
)
# A value that is a reference, a placeholder or a mask, not a secret: an environment
# variable, a template, a call or an index ("os.environ['X']"), a literal of the language,
# a comparison; or a URL, whose password (if any) is found as such. Nor, unquoted, the
# next label of a form ("Password: Username:", a word without digits ending in ":") or
# the next credential name of a list ("token= password= ").
NOT_A_VALUE = (
    r"(?![$<{%*=]|(?i:null|none|nil|true|false|undefined|required|optional|string)(?![\w\x01])"
    r"|[A-Za-z0-9_.]{0,64}+[(\[]|[A-Za-z][A-Za-z0-9+.-]{0,20}://"
    r"|(?<![\"'`])(?:[A-Za-z][A-Za-z_.-]{0,63}+:"
    rf"|[A-Za-z0-9_.-]{{0,40}}?(?:{PASSWORD_NAMES}|{KEY_NAMES})\d{{0,3}}=)(?!\S))"
)
# HTTP authorization schemes whose credential follows them (RFC 9110 section 11).
AUTH_SCHEMES = r"(?i:basic|bearer|token|negotiate|ntlm|apikey|key)"
