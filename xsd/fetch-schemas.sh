#!/bin/sh
# Fills xsd/ogc/ with the official OGC schemas (WPS 1.0.0, OWS 1.1.0) and the W3C
# XLink and xml.xsd they import, then points every remote schemaLocation at the local
# copy, so that validation runs offline. Only needed where ../shared/xsd is absent.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
dest="$here/ogc"
base=http://schemas.opengis.net
mkdir -p "$dest/wps/1.0.0/common" "$dest/ows/1.1.0" "$dest/w3c/1999" "$dest/w3c/2001"
get() { curl -fsSL --retry 3 -o "$dest/$2" "$1"; }
for f in wpsAll.xsd wpsDescribeProcess_request.xsd wpsDescribeProcess_response.xsd \
         wpsExecute_request.xsd wpsExecute_response.xsd wpsGetCapabilities_request.xsd \
         wpsGetCapabilities_response.xsd; do
  get "$base/wps/1.0.0/$f" "wps/1.0.0/$f"
done
for f in DescriptionType.xsd ProcessBriefType.xsd ProcessVersion.xsd ResponseBaseType.xsd \
         RequestBaseType.xsd WSDL.xsd; do
  get "$base/wps/1.0.0/common/$f" "wps/1.0.0/common/$f"
done
for f in ows19115subset.xsd owsAll.xsd owsCommon.xsd owsContents.xsd owsDataIdentification.xsd \
         owsDomainType.xsd owsExceptionReport.xsd owsGetCapabilities.xsd owsGetResourceByID.xsd \
         owsInputOutputData.xsd owsManifest.xsd owsOperationsMetadata.xsd \
         owsServiceIdentification.xsd owsServiceProvider.xsd; do
  get "$base/ows/1.1.0/$f" "ows/1.1.0/$f"
done
get "$base/xlink/1.0.0/xlinks.xsd" "w3c/1999/xlink.xsd"
get http://www.w3.org/2001/xml.xsd "w3c/2001/xml.xsd"
# Local edits: remote schemaLocations → relative files; drop wpsAll.xsd's self-include.
find "$dest" -name '*.xsd' | while read -r f; do
  rel=$(dirname "${f#"$dest"/}" | sed 's#[^/][^/]*#..#g')
  sed -i \
    -e "s#http://schemas.opengis.net/ows/1.1.0/#$rel/ows/1.1.0/#g" \
    -e "s#http://www.w3.org/1999/xlink.xsd#$rel/w3c/1999/xlink.xsd#g" \
    -e "s#http://schemas.opengis.net/xlink/1.0.0/xlinks.xsd#$rel/w3c/1999/xlink.xsd#g" \
    -e "s#http://www.w3.org/2001/xml.xsd#$rel/w3c/2001/xml.xsd#g" \
    "$f"
done
sed -i '/<include schemaLocation="wpsAll.xsd"\/>/d' "$dest/wps/1.0.0/wpsAll.xsd"
echo "schemas in $dest"
