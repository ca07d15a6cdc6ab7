package generate

// District is a district of Sierra Leone and its chiefdoms.
type District struct {
	Name      string
	Code      string
	Chiefdoms []string
}

// Districts are the 16 districts of Sierra Leone (the 2017 boundaries, which
// give the "about 190 chiefdoms" of PRODUCT.md; in 2014–2015 there were 14
// districts and 149 chiefdoms) with their chiefdoms, named as far as they
// are known here. The allocation of some chiefdoms to the districts created
// in 2017 (Falaba, Karene) and the split ones is approximate; the
// Western Area's "chiefdoms" are its rural areas and Freetown's wards.
var Districts = []District{
	{"Kailahun", "KAI", []string{"Dea", "Jawie", "Kissi Kama", "Kissi Teng", "Kissi Tongi", "Luawa", "Malema", "Mandu", "Njaluahun", "Peje Bongre", "Peje West", "Penguia", "Upper Bambara", "Yawei"}},
	{"Kenema", "KEN", []string{"Dama", "Dodo", "Gaura", "Gorama Mende", "Kandu Leppiama", "Koya", "Langrama", "Lower Bambara", "Malegohun", "Niawa", "Nomo", "Nongowa", "Simbaru", "Small Bo", "Tunkia", "Wandor"}},
	{"Kono", "KON", []string{"Fiama", "Gbane", "Gbane Kandor", "Gbense", "Gorama Kono", "Kamara", "Lei", "Mafindor", "Nimikoro", "Nimiyama", "Sandor", "Soa", "Tankoro", "Toli"}},
	{"Bombali", "BOM", []string{"Biriwa", "Bombali Sebora", "Bombali Siari", "Gbanti", "Gbendembu", "Kamaranka", "Magbaimba Ndorhahun", "Makarie", "Makeni City", "Mara", "Ngowahun", "Paki Masabong", "Safroko Limba"}},
	{"Falaba", "FAL", []string{"Barawa Wollay", "Delmandugu", "Dembelia Musaia", "Dembelia Sinkunia", "Folosaba Dembelia", "Folosaba Kamba", "Kabelia", "Mongo", "Morifindugu", "Neya", "Nyedu", "Sulima"}},
	{"Koinadugu", "KOI", []string{"Diang", "Gbonkobon Kayaka", "Kallian", "Kamukeh", "Kasunko Kakellay", "Neini", "Sengbe", "Thamiso", "Wara Wara Bafodia", "Wara Wara Yagala", "Yiraia"}},
	{"Tonkolili", "TON", []string{"Dansogoia", "Gbonkolenken", "Kafe", "Simiria", "Kalansogoia", "Kholifa Mabang", "Kholifa Rowalla", "Kholifa Mamuntha Mayosso", "Kunike Barina", "Kunike Sanda", "Kunike Fulawusu", "Malal", "Mara", "Sambaya", "Tane", "Yoni Mabanta", "Yoni Mamala"}},
	{"Kambia", "KAM", []string{"Bramaia", "Dixon", "Gbinleh", "Khonimakha", "Magbema", "Mambolo", "Masungbala", "Samu", "Tonko Limba"}},
	{"Karene", "KAR", []string{"Buya", "Dibia", "Gbanti Karene", "Libeisaygahun", "Mafonda Makerembay", "Romende", "Sanda Loko", "Sanda Magbolontor", "Sanda Tendaren", "Sella Limba", "Tambakha"}},
	{"Port Loko", "POR", []string{"Bake Loko", "Bureh Kasseh Maconteh", "Kaffu Bullom", "Koya", "Lokomasama", "Maforki", "Marampa", "Masimera", "Thainkatopa Makama Safrokoh", "Port Loko City"}},
	{"Bo", "BO", []string{"Badjia", "Bagbo", "Bagbwe", "Baoma", "Bumpe Ngao", "Gbo", "Jaiama Bongor", "Kakua", "Komboya", "Lugbu", "Niawa Lenga", "Selenga", "Tikonko", "Valunia", "Wonde", "Bo City"}},
	{"Bonthe", "BON", []string{"Bendu Cha", "Bum", "Dema", "Imperi", "Jong", "Kpanda Kemo", "Kwamebai Krim", "Nongoba Bullom", "Sittia", "Sogbini", "Yawbeko", "Bonthe Town"}},
	{"Moyamba", "MOY", []string{"Bagruwa", "Bumpeh", "Dasse", "Fakunya", "Kagboro", "Kaiyamba", "Kamajei", "Kongbora", "Kori", "Kowa", "Lower Banta", "Ribbi", "Timdel", "Upper Banta"}},
	{"Pujehun", "PUJ", []string{"Barri", "Futa Peje", "Gallinas Perri", "Kpaka", "Kpanga Kabonde", "Makpele", "Malen", "Mano Sakrim", "Panga Krim", "Soro Gbema", "Sowa", "Yakemo Kpukumu Krim"}},
	{"Western Area Rural", "WAR", []string{"Koya Rural", "Mountain Rural", "Waterloo Rural", "York Rural"}},
	{"Western Area Urban", "WAU", []string{"East I", "East II", "East III", "Central I", "Central II", "West I", "West II", "West III"}},
}

// Syllables of community and section names: Mende, Temne and Limba sounds,
// so that generated names read like places without naming real villages.
var (
	namePrefixes = []string{"Kpa", "Ma", "Ba", "Se", "Go", "Nja", "Ka", "Bu", "Jo", "Lu", "Ye", "Ngo", "Ko", "Ta", "Mo", "Fa", "Ro", "Lo", "Gba", "Ha", "Tei", "Ma", "Po", "Sa", "Wo", "Ge", "Ndo", "Kon", "Mba", "Rok"}
	nameMiddles  = []string{"", "", "nde", "la", "ma", "ke", "go", "si", "ye", "ba", "ti", "wu", "ra"}
	nameSuffixes = []string{"hun", "ma", "la", "bu", "ndu", "ya", "wo", "ti", "gbe", "ru", "ka", "lo", "ba", "ni", "mei", "kor", "bana", "sor"}
)
