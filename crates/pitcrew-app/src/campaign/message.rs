//! One email as it goes on the wire: MIME parts, the headers every marketing email carries, and the DKIM signature.
