#define MS_DATADIR "/usr/local/share/microscore"
